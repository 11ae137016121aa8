"""(package initialised by the lead; owner fills it in)"""
