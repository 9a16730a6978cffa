"""Transfer: contact sheets in (CSV/XLSX/vCard), contact exports out."""
