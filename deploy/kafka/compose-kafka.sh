#!/usr/bin/env bash
# docker-compose's Kafka: the image's own start (it formats the storage on the first start and writes
# server.properties from the KAFKA_* variables), then, once the broker answers on its in-container
# listener (LOCAL, localhost:19092, the only one where the anonymous principal is a super user), the
# services' SCRAM users and ACLs (deploy/kafka/acls.sh); the health check waits for that.
set -euo pipefail
rm -f /tmp/kam-acls-ready
/etc/kafka/docker/run &
broker=$!
until /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:19092 > /dev/null 2>&1; do
  kill -0 "$broker" 2> /dev/null || exit 1
  sleep 1
done
BOOTSTRAP=localhost:19092 bash /opt/kam/acls.sh
touch /tmp/kam-acls-ready
wait "$broker"
