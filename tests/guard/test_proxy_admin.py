import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.guard import ClientKey, hash_key, new_key
from redline.guard._keys import find_key


def test_keys_are_stored_hashed_and_checked():
    key = new_key()
    entry = ClientKey(name="a", hash=hash_key(key))
    other = ClientKey(name="b", hash=hash_key(new_key()))
    assert key not in entry.hash and hash_key(key) != entry.hash  # salted
    assert find_key([other, entry], key) is entry
    assert find_key([other, entry], key + "x") is None
    with pytest.raises(ValueError, match="sha256:SALT:DIGEST"):
        ClientKey(name="c", hash="plaintext-key")


def test_keygen_prints_a_key_and_a_matching_config_entry():
    import yaml

    result = CliRunner().invoke(app, ["guard", "keygen", "--name", "alice", "--rate", "30"])
    assert result.exit_code == 0
    key = result.stdout.split(": ")[1].splitlines()[0]
    [entry] = yaml.safe_load(result.stdout)
    client = ClientKey.model_validate(entry)
    assert client.name == "alice" and client.requests_per_minute == 30 and client.matches(key)


def test_serve_needs_an_upstream_and_keys(tmp_path):
    result = CliRunner().invoke(app, ["guard", "serve", "--guard", str(tmp_path)])
    assert result.exit_code == 2 and "no upstream model" in result.stderr
    result = CliRunner().invoke(app, ["guard", "serve", "--upstream", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 2 and "no client keys" in result.stderr
    config = tmp_path / "proxy.yaml"
    config.write_text("upstream: http://127.0.0.1:9/v1\nkeys:\n  - name: a\n    hash: nope\n")
    result = CliRunner().invoke(app, ["guard", "serve", "--config", str(config)])
    assert result.exit_code == 2 and "proxy.yaml:4: keys.0.hash" in result.stderr
