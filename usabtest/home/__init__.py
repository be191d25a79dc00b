"""The signed-in user's landing page, one per role."""
