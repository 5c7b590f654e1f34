"""The web page and JSON API (``dermflow serve``): one image read now, and a scoring run's results.

    app_factory      create_app(...): the shared context, middleware, error handlers and routers
    serving_context  ServingContext: what every route of one app shares (config, model, batcher, stores)
    api_routes       the JSON API: predict, model, reload, healthz
    results_routes   the results browser: /results, /results.csv, thumbnails, source images
    page_routes      the other pages: / (one image)
    security         SecurityMiddleware: the bearer token and the security headers, before any route
    http_errors      every error as {reason, message} JSON
    prediction_body  one model answer as the API's JSON; the micro-batcher's batch call
    served_model     the model that answers: pinned, or following the registry's LATEST
    micro_batcher    concurrent requests -> one model call (bounded wait, bounded queue)
    upload_limits    a multipart upload read into memory within the size limit (nothing on disk)
    results_store    DuckDB over `dermflow score` output folders, in place
    source_files     files under the --source-root folders, without traversal or symlink escape
    access_token     the bearer token, generated into a git-ignored file
    binding          where the server may listen (loopback unless on purpose)
    server_runner    run_server(...): binding rules, TLS, uvicorn

    app = create_app(cfg, model="var/registry", results=["var/scores"], source_roots=["var/inputs"])
"""
