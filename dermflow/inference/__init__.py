"""The one predictor behind batch scoring and the web server (``lesion_predictor``)."""
