#!/usr/bin/env bash
# The baseline: what people paste today to print their VM's resource group with curl and jq,
# doing the same requests as `armi group` (instance metadata, token, resource group).
set -euo pipefail
imds=$ARMI_IMDS_ENDPOINT arm=$ARMI_ARM_ENDPOINT
instance=$(curl -sSf --noproxy '*' -H Metadata:true "$imds/metadata/instance?api-version=2021-12-13")
sub=$(jq -r .compute.subscriptionId <<<"$instance")
rg=$(jq -r .compute.resourceGroupName <<<"$instance")
token=$(curl -sSf --noproxy '*' -H Metadata:true \
    "$imds/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F" \
    | jq -r .access_token)
curl -sSf --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer $token" \
    "$arm/subscriptions/$sub/resourcegroups/$rg?api-version=2021-04-01" | jq .
