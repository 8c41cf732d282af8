"""Service functions: a Session first, `now` passed in (aware), models or frozen views out.

They never commit: the caller's unit of work (`store.db.unit_of_work`) decides, so one
customer request is one transaction.
"""
