-- Generated from deploy/topology.yaml by `databus deploy compose`: do not edit.
CREATE DATABASE registry OWNER databus;
CREATE DATABASE npd OWNER databus;
CREATE DATABASE sector_social_insurance OWNER databus;
CREATE DATABASE sector_tax OWNER databus;
CREATE DATABASE sector_mobile_subscribers OWNER databus;
CREATE DATABASE sector_health OWNER databus;
