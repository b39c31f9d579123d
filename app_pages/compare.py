"""Compare (being built)."""


from ui.layout import page_header

page_header("Compare", "This page is being built.")
