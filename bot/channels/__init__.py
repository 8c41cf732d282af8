"""Channel adapters: one module per messaging channel, all speaking `bot.messages`."""
