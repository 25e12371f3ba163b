// placeholder: replaced by the issue that builds this module
