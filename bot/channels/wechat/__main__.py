"""`python -m bot.channels.wechat`: the operators' commands (bot/channels/wechat/cli.py)."""

from __future__ import annotations

import logging
import sys

from bot.channels.wechat.cli import main
from store.logmask import install_log_masking

if __name__ == "__main__":
    install_log_masking()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
