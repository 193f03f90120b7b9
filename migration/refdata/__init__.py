"""Reference data shipped with the migration (CSV seeds named by the mapping files' ``seeds:``).

A regular package (not a namespace package) so that ``importlib.resources.files`` gives a
plain directory path.  See README.md for what each file holds and its licence.
"""
