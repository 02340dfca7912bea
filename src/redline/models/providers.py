"""Registration of redline's Inspect model provider, apart from its implementations.

Inspect picks a provider by the text before the first slash, so one registered name,
`redline`, serves both kinds: `redline/guarded[/INNER]` is a model behind a guard
(`_guarded`), any other name a GGUF model run in process (`_gguf`). Each implementation is
imported when a model of its kind is made, as Inspect's own providers are.
"""

from typing import Any, cast

from inspect_ai.model import ModelAPI, modelapi

from redline.models._catalog import GUARDED, PROVIDER


def create_model(model_name: str, *args: Any, **kwargs: Any) -> ModelAPI:
    """The model API for `redline/<model_name>`."""
    if model_name == GUARDED or model_name.startswith(f"{GUARDED}/"):
        from redline.models._guarded import GuardedModel

        return GuardedModel(model_name, *args, **kwargs)
    from redline.models._gguf import RedlineGGUF

    return RedlineGGUF(model_name, *args, **kwargs)


@modelapi(name=PROVIDER)
def redline() -> type[ModelAPI]:
    """Redline's models: the embedded SmolLM2, any GGUF file, and any model behind a guard."""
    return cast(type[ModelAPI], create_model)
