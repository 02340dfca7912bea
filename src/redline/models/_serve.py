"""Serve the embedded model as an OpenAI-compatible endpoint (llama-cpp-python's server)."""

from redline.models._engine import DEFAULT_N_CTX, default_threads
from redline.models._weights import check_gguf, smollm2_path

SERVED_NAME = "redline/smollm2"


def serve_embedded(host: str = "127.0.0.1", port: int = 8081, n_ctx: int = DEFAULT_N_CTX) -> None:
    """Run the server until interrupted: /v1/chat/completions, /v1/models, streaming included."""
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    threads = default_threads()
    model = ModelSettings(
        model=str(check_gguf(smollm2_path())),
        model_alias=SERVED_NAME,
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        logits_all=False,
        verbose=False,
    )
    # queue concurrent requests instead of cutting the running one off (llama.cpp's default)
    server = ServerSettings(host=host, port=port, interrupt_requests=False)
    app = create_app(server_settings=server, model_settings=[model])
    uvicorn.run(app, host=host, port=port, log_level="warning")
