-- One database per service, created when the PostgreSQL container first
-- initialises its data directory (docker-compose.yml, profile "postgres").
CREATE DATABASE auth;
CREATE DATABASE users;
CREATE DATABASE chat;
