"""The database password never shows in what recon says about its store, however it is written."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from recon.errors import ConfigError, StoreError
from recon.store.sql import SqlStore

PASSWORD = "Sekr3t-db-pw"


def test_a_password_given_as_a_url_parameter_is_masked_when_the_store_cannot_open() -> None:
    """libpq takes the password as ``?password=`` too (a password with an ``@`` or ``/`` need
    not be escaped that way). The error named the store by SQLAlchemy's URL with only its
    ``user:password@`` part masked: the query's password went to stderr and cron's mail."""
    url = f"postgresql+psycopg://recon@127.0.0.1:1/recon?password={PASSWORD}&connect_timeout=3"
    with pytest.raises(StoreError) as failed:
        SqlStore(url, shop="acme")
    assert "127.0.0.1:1/recon" in str(failed.value)  # still names the store
    assert PASSWORD not in str(failed.value)


def test_a_password_given_as_a_url_parameter_is_masked_when_another_shop_owns_the_store(
    postgres_url: str,
) -> None:
    url = make_url(postgres_url)
    password = url.password or ""
    assert password, "the test database's URL names a password"
    in_query = url.set(password=None).update_query_dict({"password": password})
    written = in_query.render_as_string(hide_password=False)
    SqlStore(written, shop="acme").close()
    with pytest.raises(ConfigError, match="belongs to shop 'acme'") as refused:
        SqlStore(written, shop="beta")
    assert f"password={password}" not in str(refused.value)
