"""Outage notices (issue 19, docs/outages.md): staff publish outages, customers subscribe to
their area, and a persistent queue tells everyone affected, once, on the channel they use.

| module | what |
|---|---|
| `targets.py` | the areas of an outage: villages, groups (组), feeders |
| `publishing.py` | publish, edit, postpone, cancel, progress, safety, restore (staff) |
| `commitment.py` | the notice commitment (7 days / 24 hours): the warning, the late ones |
| `suspected.py` | clustered fault reports; publishing them in one step |
| `wording.py`, `notices.py` | a notice's words in both languages; writing notices, reminders |
| `subscriptions.py` | customers' subscriptions (订阅 / 退订) |
| `fanout.py` | a notice to one delivery per customer |
| `queue.py` | claiming, pacing and marking deliveries (every gateway works it) |
| `views.py` | what the console shows |

The gateway's side (the console's page and API, the delivery worker) is bot/outages/; the
customer's side (subscribing in the conversation) actions/subscriptions.py. Nothing is
imported here, so store.services may use the modules without a cycle.
"""
