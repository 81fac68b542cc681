"""The handwritten-digit studio's modules, grouped by role."""
