"""MLflow "model from code" for the uplift model: logged as this file (no pickled Python object), it declares
the pyfunc whose ``load_context`` reads the CatBoost models from the version's artifacts."""

from mlflow.models import set_model

from ml.uplift import UpliftPyfunc

set_model(UpliftPyfunc())
