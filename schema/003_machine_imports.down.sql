DROP TABLE IF EXISTS machine_import_rows, machine_imports;
