"""The data contract: the columns of the IBM Telco Customer Churn table and what each may hold."""

ID_COLUMN = "customerID"
TARGET = "Churn"

YES_NO = ("Yes", "No")
INTERNET_ADDON = ("Yes", "No", "No internet service")
#: Services sold on top of an internet contract ("No internet service" without one).
ADD_ONS = (
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)

#: Text columns and their allowed values, exactly as the public CSV spells them.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "gender": ("Female", "Male"),
    "Partner": YES_NO,
    "Dependents": YES_NO,
    "PhoneService": YES_NO,
    "MultipleLines": ("Yes", "No", "No phone service"),
    "InternetService": ("DSL", "Fiber optic", "No"),
    **dict.fromkeys(ADD_ONS, INTERNET_ADDON),
    "Contract": ("Month-to-month", "One year", "Two year"),
    "PaperlessBilling": YES_NO,
    "PaymentMethod": (
        "Electronic check",
        "Mailed check",
        "Bank transfer (automatic)",
        "Credit card (automatic)",
    ),
}

#: Numeric columns: (lowest, highest, whole numbers only).
NUMBERS: dict[str, tuple[float, float, bool]] = {
    "SeniorCitizen": (0, 1, True),
    "tenure": (0, 120, True),
    "MonthlyCharges": (0.0, 1_000.0, False),
    "TotalCharges": (0.0, 200_000.0, False),
}

#: Numeric columns that may be blank (the public CSV leaves TotalCharges blank at tenure 0).
MAY_BE_BLANK = ("TotalCharges",)

COLUMNS: tuple[str, ...] = (
    ID_COLUMN,
    "gender",
    "SeniorCitizen",
    "Partner",
    "Dependents",
    "tenure",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
    "MonthlyCharges",
    "TotalCharges",
    TARGET,
)

#: The columns a model sees (everything but the identifier and the label).
INPUT_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in (ID_COLUMN, TARGET))
