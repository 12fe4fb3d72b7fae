"""Tornado glue: the only package that imports tornado.web."""
