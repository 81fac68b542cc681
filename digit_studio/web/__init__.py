"""The web layer: one module per page section, the JSON routes, reading visitors' files, and every workaround of
Gradio's internals (gradio_fixes.py)."""
