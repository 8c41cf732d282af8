"""Customer records (clerks, dispatchers, supervisors, managers: `auth.CUSTOMER_RECORD_ROLES`):
the page `/console/customers` and its JSON API under `/api/v1/customers`.

- ``GET /api/v1/customers?q=`` search by account number, meter number, phone (whole or its last
  digits), name or address; phones masked;
- ``GET /api/v1/customers/{account_no}`` the customer's page: account, meter, recent bills and
  the whole contact history across channels. Every opening is recorded in the access log
  (kind ``customer_record``) in the same transaction that reads it.

Service: store/services/customer_records.py; docs/back-office-cases.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.console import auth
from bot.console.case_common import back_office_page, config_of, install, not_found, now_of, run
from store.services import customer_records
from store.services.customer_records import QUERY_MAX, Opening
from store.statuses import AccessKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def setup(app: web.Application) -> None:
    install(app)
    add = app.router
    add.add_get("/console/customers", customers_page, name="console-customers")
    add.add_get("/api/v1/customers", get_search, name="customers-search")
    add.add_get("/api/v1/customers/{account_no}", get_customer, name="customers-one")


@auth.require(auth.CUSTOMER_RECORD_ROLES, kind="page")
async def customers_page(request: web.Request) -> web.StreamResponse:
    return await back_office_page(request, "console-customers.html")


@auth.require(auth.CUSTOMER_RECORD_ROLES)
async def get_search(request: web.Request) -> web.Response:
    _, office = config_of(request)
    query = request.query.get("q", "")[:QUERY_MAX]
    found = await run(request, lambda s: customer_records.search(s, office, query))
    return web.json_response({"customers": found, "limit": office.search_limit})


@auth.require(auth.CUSTOMER_RECORD_ROLES)
async def get_customer(request: web.Request) -> web.Response:
    settings, office = config_of(request)
    opening = Opening(
        who=auth.staff_of(request),
        kind=AccessKind.CUSTOMER_RECORD,
        address=auth.client_ip(request),
        at=now_of(request),
    )
    number = request.match_info["account_no"]

    def work(session: Session) -> dict[str, Any]:
        account = customer_records.get_account(session, number)
        if account is None:
            raise not_found("customer")
        return customer_records.customer_page(session, settings, office, account, opening)

    return web.json_response(await run(request, work))
