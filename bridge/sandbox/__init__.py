"""Emulators of the Chats API and the Bot API, and the harness that runs the bridge against them.

``amo-bridge sandbox`` (``harness.run_sandbox``), the end-to-end tests and the benchmarks all
use them.
"""
