"""The web page and JSON API (``dermflow serve``): one image read now, and a scoring run's results.

    app_factory      create_app(...): FastAPI routes, pages, auth middleware
    served_model     the model that answers: pinned, or following the registry's LATEST
    micro_batcher    concurrent requests -> one model call (bounded wait, bounded queue)
    upload_limits    a multipart upload read into memory within the size limit (nothing on disk)
    results_store    DuckDB over `dermflow score` output folders, in place
    source_files     files under the --source-root folders, without traversal or symlink escape
    access_token     the bearer token, generated into a git-ignored file
    server_runner    run_server(...): binding rules, TLS, uvicorn

    app = create_app(cfg, model="var/registry", results=["var/scores"], source_roots=["var/archive"])
"""
