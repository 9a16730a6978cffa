"""The web skin: one ASGI app (Starlette) served by uvicorn inside `mailcrm serve`'s event loop."""
