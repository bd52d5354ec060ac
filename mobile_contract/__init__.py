"""The OpenAPI contract the app, kiosk, TV, hotline and partner clients build against.

`openapi.json` beside this file is the committed snapshot of every client-facing operation;
the modules here build it from the app, compare two versions of it, and check it."""
