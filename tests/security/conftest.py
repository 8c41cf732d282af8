"""The attack suite (issue 14): every inbound surface attacked on loopback against the real
gateway and its real database (SQLite and PostgreSQL), with the fakes of tests/fakes for Rasa
and Telegram. The database fixtures (`db_url`, `session_factory`, `seeded`) come from
tests/conftest.py; each module brings the stack it attacks."""
