"""Which images keep state, and where: the catalogue the pack uses to demand encrypted volumes.

Databases, vector stores, search engines, queues and object stores write their data to a known
directory. A workload running one of them must have that directory on an encrypted volume;
without a volume the data lands in the container's writable layer under /var/lib/docker (or,
with a read-only root, nowhere durable). Matching is on the image repository's last path
component (registry, namespace, tag and digest dropped), so `docker.io/library/postgres:16` and
`ghcr.io/acme/postgres@sha256:...` are both PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# repository name pattern -> (what it is, data directories, environment variable that moves them)
CATALOGUE: tuple[tuple[re.Pattern[str], str, tuple[str, ...], str | None], ...] = tuple(
    (re.compile(p), what, dirs, env)
    for p, what, dirs, env in (
        (
            r"^(postgres|postgresql|postgis|pgvector|timescaledb.*|supabase-postgres)$",
            "PostgreSQL",
            ("/var/lib/postgresql/data",),
            "PGDATA",
        ),
        (r"^(mysql|mariadb|percona.*)$", "MySQL/MariaDB", ("/var/lib/mysql",), None),
        (r"^(mongo|mongodb.*)$", "MongoDB", ("/data/db",), None),
        (r"^(redis|redis-stack.*|valkey|keydb)$", "Redis", ("/data",), None),
        (r"^qdrant$", "Qdrant", ("/qdrant/storage",), None),
        (r"^(weaviate)$", "Weaviate", ("/var/lib/weaviate",), "PERSISTENCE_DATA_PATH"),
        (r"^(milvus|milvus-standalone)$", "Milvus", ("/var/lib/milvus",), None),
        (r"^(chroma|chromadb)$", "Chroma", ("/chroma/chroma", "/data"), "PERSIST_DIRECTORY"),
        (
            r"^(elasticsearch|opensearch)$",
            "Elasticsearch/OpenSearch",
            ("/usr/share/elasticsearch/data", "/usr/share/opensearch/data"),
            None,
        ),
        (r"^(meilisearch)$", "Meilisearch", ("/meili_data",), None),
        (r"^(typesense)$", "Typesense", ("/data",), None),
        (r"^(clickhouse-server|clickhouse)$", "ClickHouse", ("/var/lib/clickhouse",), None),
        (r"^(cassandra|scylla)$", "Cassandra/Scylla", ("/var/lib/cassandra", "/var/lib/scylla"), None),
        (r"^(couchdb)$", "CouchDB", ("/opt/couchdb/data",), None),
        (r"^(neo4j)$", "Neo4j", ("/data",), None),
        (r"^(influxdb)$", "InfluxDB", ("/var/lib/influxdb2", "/var/lib/influxdb"), None),
        (r"^(minio)$", "MinIO", ("/data",), None),
        (r"^(etcd)$", "etcd", ("/var/lib/etcd",), None),
        (r"^(rabbitmq)$", "RabbitMQ", ("/var/lib/rabbitmq",), None),
        (r"^(kafka|cp-kafka)$", "Kafka", ("/var/lib/kafka/data", "/bitnami/kafka"), None),
        (r"^(nats)$", "NATS JetStream", ("/data",), None),
    )
)


@dataclass(frozen=True)
class StatefulImage:
    what: str
    data_dirs: tuple[str, ...]


def repository_name(image: str) -> str:
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def stateful_image(image: str, env: dict[str, object] | None = None) -> StatefulImage | None:
    name = repository_name(image)
    for pattern, what, dirs, env_name in CATALOGUE:
        if pattern.match(name):
            moved = (env or {}).get(env_name) if env_name else None
            if isinstance(moved, str) and moved.startswith("/"):
                dirs = (moved,)
            return StatefulImage(what, dirs)
    return None
