"""Recommendations (being built)."""


from ui.layout import page_header

page_header("Recommendations", "This page is being built.")
