"""`redline keys trust|list|revoke|sign`: the keys whose signatures this machine accepts."""

import base64
import binascii
from pathlib import Path
from typing import Annotated

import typer

from redline.cli._app import app, user_errors
from redline.errors import RedlineError

keys_app = typer.Typer(
    help="Trusted signing keys: `redline verify` accepts only signatures by these.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


def _public_key(key: str) -> bytes:
    """A raw public key from a `.pub` file or from its base64 text."""
    from redline._signing import read_public_key

    if Path(key).is_file():
        return read_public_key(Path(key))
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error as ex:
        raise RedlineError(f"{key}: neither a public key file nor a base64 public key") from ex
    if len(raw) != 32:
        raise RedlineError(f"an Ed25519 public key has 32 bytes, this has {len(raw)}")
    return raw


@keys_app.command("trust")
def keys_trust(
    key: Annotated[str, typer.Argument(help="A public key file (.pub, base64) or the base64.")],
    name: Annotated[str, typer.Option(help="Whose key it is (shown by verify).")],
) -> None:
    """Trust a public key: reports, decisions and determinations it signs verify."""
    from redline._signing import TrustStore, key_id

    with user_errors():
        raw = _public_key(key)
        path = TrustStore.load().add(raw, name).save()
    typer.echo(f"trusted key {key_id(raw)} ({name}) in {path}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (or a unique prefix of it).")],
) -> None:
    """Stop trusting a key; what it signed no longer verifies."""
    from redline._signing import TrustStore

    with user_errors():
        store = TrustStore.load().revoke(key_id)
        path = store.save()
    typer.echo(f"revoked key {key_id} in {path}")


@keys_app.command("list")
def keys_list() -> None:
    """The keys in the trust store, trusted and revoked, and this machine's signing key."""
    from rich.console import Console
    from rich.table import Table

    from redline._signing import PUBLIC_KEY, TRUST_STORE, TrustStore, default_key_dir, key_id

    with user_errors():
        store = TrustStore.load()
        local_pub = default_key_dir() / PUBLIC_KEY
        local = key_id(_public_key(str(local_pub))) if local_pub.is_file() else None
    table = Table(title=f"Trust store {default_key_dir() / TRUST_STORE}")
    for column in ("key id", "name", "added", "status"):
        table.add_column(column)
    for k in store.keys:
        status = f"revoked {k.revoked}" if k.revoked else "trusted"
        mine = " (this machine's signing key)" if k.key_id == local else ""
        table.add_row(k.key_id, k.name + mine, str(k.added), status)
    Console().print(table)


@keys_app.command("sign")
def keys_sign(
    evidence: Annotated[Path, typer.Argument(help="The evidence YAML holding the determination.")],
    threshold: Annotated[str, typer.Option(help="The threshold whose determination to sign.")],
) -> None:
    """Sign a determination with your key; prints the `signature:` block to paste under it."""
    import yaml

    from redline.policy import sign_determination

    with user_errors():
        signature = sign_determination(evidence, threshold)
    block = yaml.safe_dump({"signature": signature.model_dump()}, sort_keys=False, width=200)
    typer.echo(block.rstrip())
