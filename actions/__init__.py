"""Custom actions of the township power-station assistant (served by rasa-sdk).

`python -m rasa_sdk --actions actions` imports every module of this package; each module holds
one capability (verification, faults, billing, ...). Actions read and write the SQL stores via
`store` services; every customer-facing text is a response in domain.yml.
"""
