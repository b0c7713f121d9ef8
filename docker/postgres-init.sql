-- Databases of the compose stack: Airflow's metadata, the shared layer, and the simulated
-- public security bureau's own database.
CREATE USER airflow WITH PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;
CREATE USER cityhub WITH PASSWORD 'cityhub';
CREATE DATABASE cityhub OWNER cityhub;
CREATE DATABASE public_security OWNER cityhub;
