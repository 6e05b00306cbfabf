# newsflow on the official Airflow 3.3 image: the project installed as a package, the DAGs baked in.
FROM apache/airflow:3.3.2-python3.11

# Pinning apache-airflow to the image's version keeps pip from up- or downgrading Airflow itself.
COPY --chown=airflow:root pyproject.toml README.md /opt/newsflow/
COPY --chown=airflow:root pipeline /opt/newsflow/pipeline
COPY --chown=airflow:root sql /opt/newsflow/sql
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/newsflow[airflow]"

COPY --chown=airflow:root dags /opt/airflow/dags
# The migrations ship beside the package source, not inside site-packages.
ENV NEWSFLOW_SQL_DIR=/opt/newsflow/sql \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
