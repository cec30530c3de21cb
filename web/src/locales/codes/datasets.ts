// Messages of the dataset catalog by code ("datasets.<key>"): reads, files,
// downloads, editing, sharing and the admins' library.
export const zh = {
  badPath: '{path} 不是数据集内有效的文件路径',
}

export const en: typeof zh = {
  badPath: '{path} is not a valid file path inside a dataset',
}
