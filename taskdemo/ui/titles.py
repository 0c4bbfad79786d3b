"""The page's title, also the tab's when nothing runs."""
TITLE = 'Task Processing Simulator'
