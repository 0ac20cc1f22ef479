"""The Celery worker: background tasks bound to the Flask app (workflows <- rems <- worker).

Start commands:
    celery -A worker.celery_app worker -Q default,pdf -l info
    celery -A worker.celery_app beat
"""
