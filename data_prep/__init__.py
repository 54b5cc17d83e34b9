"""Command-line scripts that write datasets (python -m data_prep.<script>)."""
