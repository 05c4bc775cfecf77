"""`deeplearn lecture`: run every system's claims of the lecture and write an HTML report (report.html, report.json)."""
