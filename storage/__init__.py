"""Persistence: the seed's SQLAlchemy 2.0 models, repositories, unit of work, migrations."""
