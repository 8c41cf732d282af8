"""The messaging gateway: the customers' only front door (Telegram, web chat, JSON API).

Rasa is internal; every channel hands a normalised `Inbound` message to the `Router`, which keeps
the transcript, asks Rasa and delivers the `Reply` list back through the channel.
"""
