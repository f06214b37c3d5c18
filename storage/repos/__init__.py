"""Repositories: the queries of one table (or concept) each, run on a unit of work's session.

None of them commits: the ``Store.transaction()`` (or ``read()``) that made the unit of work
does. Reach them through the unit of work (``uow.connections``, ``uow.jobs``…), not directly.
"""
