"""The configuration schema: unknown keys and wrong types stop the load, naming key and file."""

from __future__ import annotations

import pytest

from netledger import config as config_mod
from netledger.config import ConfigError, load, load_with_sources, noauth_exposure


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in [v for v in __import__("os").environ if v.startswith("NETLEDGER_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)   # no ./netledger.toml picked up by accident


def write(tmp_path, text: str) -> str:
    path = tmp_path / "nl.toml"
    path.write_text(text)
    return str(path)


def test_unknown_key_names_key_file_and_suggestion(tmp_path):
    path = write(tmp_path, 'auth_strateg = "keystone"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert path in str(err.value) and "'auth_strateg'" in str(err.value) and "'auth_strategy'" in str(err.value)


def test_unknown_key_under_netledger_table(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'api_prot'"):
        load(write(tmp_path, "[netledger]\napi_prot = 1\n"))


@pytest.mark.parametrize("line,key,expected", [
    ('api_port = "9696"', "api_port", "int"),
    ("api_port = true", "api_port", "int"),
    ("noauth_default_admin = 1", "noauth_default_admin", "bool"),
    ("tenant_network_types = \"vxlan\"", "tenant_network_types", "list of strings"),
    ("tenant_network_types = [1]", "tenant_network_types", "list of strings"),
    ("prefix = 3", "prefix", "str"),
    ('auth_strategy = "keyston"', "auth_strategy", "one of noauth, keystone"),
])
def test_wrong_type_names_key_and_file(tmp_path, line, key, expected):
    path = write(tmp_path, line + "\n")
    with pytest.raises(ConfigError) as err:
        load(path)
    assert path in str(err.value) and repr(key) in str(err.value) and expected in str(err.value)


def test_valid_file_is_typed_and_int_is_a_float(tmp_path):
    cfg = load(write(tmp_path, "[netledger]\napi_port = 9797\nagent_down_time = 5\n"
                               'tenant_network_types = ["vlan", "vxlan"]\n'))
    assert (cfg.api_port, cfg.agent_down_time, cfg.tenant_network_types) == (9797, 5.0, ["vlan", "vxlan"])
    assert isinstance(cfg.agent_down_time, float)


def test_env_overrides_file_with_its_type(tmp_path, monkeypatch):
    path = write(tmp_path, "api_port = 9797\nnoauth_default_admin = true\n")
    monkeypatch.setenv("NETLEDGER_API_PORT", "9898")
    monkeypatch.setenv("NETLEDGER_NOAUTH_DEFAULT_ADMIN", "off")
    monkeypatch.setenv("NETLEDGER_TENANT_NETWORK_TYPES", "vlan, flat")
    cfg, sources = load_with_sources(path)
    assert (cfg.api_port, cfg.noauth_default_admin, cfg.tenant_network_types) == (9898, False, ["vlan", "flat"])
    assert sources["api_port"] == "env NETLEDGER_API_PORT"
    assert sources["prefix"] == "default"


@pytest.mark.parametrize("var,value", [
    ("NETLEDGER_API_PORT", "96x"), ("NETLEDGER_PUBLISH_INTENTS", "maybe"),
    ("NETLEDGER_AGENT_DOWN_TIME", "soon"), ("NETLEDGER_AUTH_STRATEGY", "none"),
])
def test_bad_env_value_names_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var):
        load()


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(str(tmp_path / "missing.toml"))


def test_flags_win_and_are_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("NETLEDGER_PREFIX", "envp")
    cfg, sources = load_with_sources(None, prefix="flagp", nats_url=None)
    assert cfg.prefix == "flagp" and sources["prefix"] == "command line"
    assert sources["nats_url"] == "default"


def test_render_masks_secrets_and_shows_sources(tmp_path):
    path = write(tmp_path, 'keystone_service_password = "s3cret"\napi_port = 1234\n')
    text = config_mod.render_effective(*load_with_sources(path))
    assert "s3cret" not in text
    assert f"api_port = 1234  # file {path}" in text
    assert 'prefix = "nl"  # default' in text


@pytest.mark.parametrize("strategy,admin,host,allow,bound,n_warn", [
    ("noauth", True, "0.0.0.0", False, "127.0.0.1", 2),
    ("noauth", True, "0.0.0.0", True, "0.0.0.0", 1),
    ("noauth", True, "127.0.0.1", False, "127.0.0.1", 1),
    ("noauth", True, "::1", False, "::1", 1),
    ("noauth", False, "0.0.0.0", False, "0.0.0.0", 0),
    ("keystone", True, "0.0.0.0", False, "0.0.0.0", 0),
])
def test_noauth_default_admin_keeps_the_api_on_loopback(strategy, admin, host, allow, bound, n_warn):
    cfg = config_mod.Config(auth_strategy=strategy, noauth_default_admin=admin, api_host=host,
                            noauth_allow_remote=allow)
    got, warnings = noauth_exposure(cfg)
    assert got == bound and len(warnings) == n_warn
