"""Train (being built)."""


from ui.layout import page_header

page_header("Train", "This page is being built.")
