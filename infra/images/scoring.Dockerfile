# The scoring function: spaCy and the committed model are too big for a zip (../shared/FACTS.md §7).
# Built by `cdk deploy` from the repository root (infra/cxloop_infra/functions.py); arm64, Python 3.11.
FROM public.ecr.aws/lambda/python:3.11-arm64

COPY pyproject.toml constraints.txt ${LAMBDA_TASK_ROOT}/
COPY shared ${LAMBDA_TASK_ROOT}/shared
COPY services ${LAMBDA_TASK_ROOT}/services
# The pinned runtime and scoring dependencies only; the code is used in place from LAMBDA_TASK_ROOT.
RUN pip install --no-cache-dir -c ${LAMBDA_TASK_ROOT}/constraints.txt \
        "aws-lambda-powertools==3.37.0" "pydantic==2.14.3" "spacy==3.8.18" \
    && find /var/lang/lib/python3.11/site-packages -name "*.so" -exec strip --strip-unneeded {} + 2>/dev/null || true

ENV PYDANTIC_DISABLE_PLUGINS=__all__
CMD ["services.scoring.handlers.consumer.handler"]
