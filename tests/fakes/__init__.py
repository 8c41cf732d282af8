"""The fakes the tests run the real code against: one per real service, each speaking that
service's real protocol on loopback (never the internet, never mock chains), and the harnesses
that start the real gateway in front of them.

One fake per service:

- `rasa`: Rasa's HTTP server (REST and gateway webhooks, tracker, status, PUT /model);
- `action_server`: the action server's /health, which comes with the fake Rasa;
- `rasa_cli`: the `rasa` command (data validate, train, test nlu) the NLU loop runs;
- `rasa_tracker`: Rasa's side of an action call (tracker, dispatcher, slot events), to run
  custom actions in process;
- `telegram_api`: the Telegram Bot API, for python-telegram-bot;
- `wechat_api` and `wechat_server`: WeChat's server API (token, customer-service and template
  messages, menu) and WeChat's servers posting an Official Account's messages (signed, AES).

Harnesses: `loopback` (free ports, serving a fake for a block), `gateway` (the gateway core and
a recording channel), `console` (the gateway with the agent console and staff browsers),
`nlu_console` and `nlu_project` (the NLU page on a throw-away copy of the project),
`telegram_channel` and `webchat` (one channel in a minimal app, with a small fake router),
`wechat_gateway` (the real gateway with the WeChat channel). The
real servers as processes are in tests/processes.py; shared fixtures in tests/conftest.py.
"""
