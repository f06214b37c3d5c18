"""Messenger adapters.

Rules every adapter follows:
- it imports only the contract modules of the core (``bridge.ids``, ``bridge.messages``,
  ``bridge.channel``, ``bridge.errors``, ``bridge.retry``), never the store or the relay;
- it hands each normalized update to the ``InboundSink`` and acknowledges the update to its
  messenger only after ``accept()`` returned;
- it maps its transport's failures to ``TransientDeliveryError`` / ``PermanentDeliveryError``;
- it keeps credentials in memory only and never puts them into a URL handed outward or a log line.
"""
