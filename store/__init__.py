"""SQL stores of the assistant: configuration, models, migrations, services and demo data.

Nothing here opens a database or reads a file at import time: callers load `Settings` once
(`store.config.load_settings`) and build an engine (`store.db.make_engine`) when they start.
"""
