-- One database per service (no service reads another's tables).
-- Run by the postgres image from /docker-entrypoint-initdb.d on the first start only,
-- i.e. when its data volume is empty; `docker compose down -v` to run it again.
CREATE DATABASE kam_account;
CREATE DATABASE kam_opportunity;
CREATE DATABASE kam_forecast;
CREATE DATABASE kam_team;
