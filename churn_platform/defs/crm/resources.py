"""The CRMs scores are written back to; a CRM without credentials is not configured (its asset says so)."""

from __future__ import annotations

import dagster as dg

from churn_platform.lib.crm import CrmWriter, writer_for
from churn_platform.settings import get_settings


class CrmResource(dg.ConfigurableResource):
    """Credentials come from the environment at run time: the Dagster UI shows variable names, never tokens."""

    hubspot_access_token: str | None = None
    hubspot_host: str = "https://api.hubapi.com"
    hubspot_object: str = "companies"
    hubspot_id_property: str = "churn_customer_id"
    salesforce_instance_url: str | None = None
    salesforce_session_id: str | None = None
    salesforce_username: str | None = None
    salesforce_password: str | None = None
    salesforce_security_token: str | None = None
    salesforce_domain: str = "login"
    salesforce_object: str = "Account"
    salesforce_external_id_field: str = "Churn_Customer_Id__c"
    batch_size: int = 100
    backoff_seconds: float = 0.5

    def configured(self, crm: str) -> bool:
        if crm == "hubspot":
            return bool(self.hubspot_access_token)
        if crm == "salesforce":
            return bool(self.salesforce_session_id or (self.salesforce_username and self.salesforce_password))
        raise ValueError(f"unknown CRM {crm!r}")

    def writer(self, crm: str) -> CrmWriter:
        if crm == "hubspot":
            return writer_for(
                "hubspot",
                access_token=self.hubspot_access_token or "",
                host=self.hubspot_host,
                object_type=self.hubspot_object,
                id_property=self.hubspot_id_property,
                batch_size=self.batch_size,
            )
        return writer_for(
            crm,
            instance_url=self.salesforce_instance_url,
            session_id=self.salesforce_session_id,
            username=self.salesforce_username,
            password=self.salesforce_password,
            security_token=self.salesforce_security_token,
            domain=self.salesforce_domain,
            object_name=self.salesforce_object,
            external_id_field=self.salesforce_external_id_field,
            batch_size=self.batch_size,
        )


def _secret(variable: str, present: object) -> dg.EnvVar | None:
    return dg.EnvVar(variable) if present else None


@dg.definitions
def resources() -> dg.Definitions:
    s = get_settings()
    return dg.Definitions(
        resources={
            "crm": CrmResource(
                hubspot_access_token=_secret("CHURN_HUBSPOT_ACCESS_TOKEN", s.hubspot_access_token),
                hubspot_host=s.hubspot_host,
                hubspot_object=s.hubspot_object,
                hubspot_id_property=s.hubspot_id_property,
                salesforce_instance_url=s.salesforce_instance_url,
                salesforce_session_id=_secret("CHURN_SALESFORCE_SESSION_ID", s.salesforce_session_id),
                salesforce_username=s.salesforce_username,
                salesforce_password=_secret("CHURN_SALESFORCE_PASSWORD", s.salesforce_password),
                salesforce_security_token=_secret(
                    "CHURN_SALESFORCE_SECURITY_TOKEN", s.salesforce_security_token
                ),
                salesforce_domain=s.salesforce_domain,
                salesforce_object=s.salesforce_object,
                salesforce_external_id_field=s.salesforce_external_id_field,
                batch_size=s.crm_batch_size,
                backoff_seconds=s.crm_backoff_seconds,
            )
        }
    )
